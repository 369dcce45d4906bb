"""Small pieces shared by every part of the tracker: the clock, system checks."""
