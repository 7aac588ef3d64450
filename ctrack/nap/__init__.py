"""NAP audit: which phone numbers a web page publishes, to catch tracking-number sprawl."""
