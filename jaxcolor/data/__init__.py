"""Data: image I/O, the synthetic dataset, host-side augmentation."""
