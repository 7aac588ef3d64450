"""The route: which source a dialed number is, where the call rings, what is recorded."""
