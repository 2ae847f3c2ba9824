"""How far to trust a call: out-of-distribution, view and age checks, DICOM header checks, uncertainty."""
