"""Where a phone number is from, offline: region codes and places for consent and reports."""
