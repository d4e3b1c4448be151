"""The job queue workers claim from (jobs, leases, attempts), in the warehouse's database."""
