"""ETSI formats of what verification found: the validation report of ETSI TS 119 102-2."""
