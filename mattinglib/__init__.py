"""mattinglib: training matting models from coarse labels with the known + DDC losses.

Reference: W. Liu, Z. Ye, H. Lu, Z. Cao, X. Yue, "Training Matting Models without Alpha
Labels", AAAI 2025. See README.md for the study, docs/method.md for the method as implemented
here and docs/protocols.md for the evaluation protocols.
"""
__version__ = "0.1.0"
