"""Asset ledger (资产台账): assets, valuation, import/export, change history."""
