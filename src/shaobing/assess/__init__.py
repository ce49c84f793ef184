"""Assessments (E1–E3): risk (GB/T 20984-2022), MLPS (GB/T 22239-2019), data security."""
