"""The call log: PBX events and CDR rows in, one record per inbound call out."""
