"""Order sources that are not a live org (snapshot files)."""
