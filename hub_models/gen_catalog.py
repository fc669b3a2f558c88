"""The generative tab's choices, torch-free so the page builds without importing torch. The names here are the
values handlers and the API compare (the page shows their text from common/locales: generative.target_*,
generative.loss_*, generative.all_classes)."""
SIZES = (8, 16, 32, 64)  # square sides every family here takes (powers of two: stride-2 ups and downs)
TOY_TARGETS = ("1-D Gaussian", "2-D Gaussian", "2-D ring of 8 Gaussians")  # i18n: not shown
GAN_LOSSES = ("non-saturating", "minimax")
MAX_SAMPLES = 256  # one request's grid
PIXELCNN_MAX_SIZE = 32  # it draws one pixel at a time: 64 px would take minutes per sample grid on a CPU
ALL_CLASSES = "all classes: one row each"  # i18n: not shown (the class picker's first choice's value)
