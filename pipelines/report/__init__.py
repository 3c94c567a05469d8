"""Stage `report`: the leadership report (its numbers, figures, HTML and the stage wrapper)."""
