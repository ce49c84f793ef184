"""Risk assessment per GB/T 20984-2022 (E1): inputs, matrix and multiplication methods, trend."""
