"""Stage `publish`: the validated run into the database and the CRM exports (store, export
and the stage wrapper live here)."""
