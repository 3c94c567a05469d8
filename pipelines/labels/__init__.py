"""Stage `labels`: did each snapshot's lead cross each gate within the horizon?"""
