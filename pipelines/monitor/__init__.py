"""Stage `monitor`: is the model still right?"""
