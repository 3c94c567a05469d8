"""Stage `score`: every open lead scored, explained, routed and handed off (context, routing,
lead scoring and the stage wrapper live here)."""
