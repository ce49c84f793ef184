"""等保 2.0 (MLPS) Level 3 assessment per GB/T 22239-2019 and GB/T 28448-2019 (E2)."""
