"""Reading results out: the analysis runner over queries/*.sql, the statistics DuckDB gets,
DuckDB connections and the SQL sandbox, reports in the layouts of the papers, plots, the HTML
report, and how rows reach a terminal, a pipe or a file."""
