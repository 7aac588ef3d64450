"""Website dynamic number insertion: visits, pool leases, attribution of calls to visits."""
