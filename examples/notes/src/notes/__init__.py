"""The tutorial's notes app."""
