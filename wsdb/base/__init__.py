"""What every layer of wsdb uses, and which uses nothing of wsdb but itself: errors, the rules
for files read and written (files), for stored numbers (values), citations of the five papers
(papers), progress bars, worker processes that die with their parent, the pickle allow-list."""
