"""The app's routes, one module per part: pages (auth, pages, plans, entries, reports), api, feeds."""
