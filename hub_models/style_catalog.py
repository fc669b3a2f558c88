"""What the style-transfer tab lists before any model loads (no torch here): VGG-19's layer names, the
layers style transfer uses, and the built-in photos and textures."""
from __future__ import annotations

VGG_REPO = "timm/vgg19.tv_in1k"
# The frozen networks that score style and content (their names are what code reads; the tab's words are
# common/locales' style.extractor_*).
EXTRACTORS = {"vgg19-random": "VGG-19, seeded random weights (offline)",  # i18n: not shown
              "vgg19-hub": f"VGG-19, ImageNet weights ({VGG_REPO} on the chosen hub)"}  # i18n: not shown
# d2l's choice: the first conv of each block for style, a deep conv for content
STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
CONTENT_LAYERS = ("conv4_2",)
# Johnson et al.'s choice for the fast network, without relu4_3: relu layers, shallow content, and a third
# of VGG-19's cost (two cores train it in minutes)
FAST_STYLE_LAYERS = ("relu1_2", "relu2_2", "relu3_3")
FAST_CONTENT_LAYERS = ("relu2_2",)


def vgg19_names() -> list[str]:
    """Names of VGG-19's 37 feature layers in order: conv1_1, relu1_1, conv1_2, relu1_2, pool1, conv2_1..."""
    names = []
    for block, convs in enumerate((2, 2, 4, 4, 4), start=1):
        for i in range(1, convs + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    return names


CONV_LAYERS = [n for n in vgg19_names() if n.startswith("conv")]


# Photographs and textures that ship inside installed packages: the offline examples and training photos.
BUILTIN_IMAGES = {  # name: (package, file in it, credit); the credits are for the reader of this file
    "astronaut": ("skimage", "data/astronaut.png", "Eileen Collins, NASA (public domain)"),  # i18n: not shown
    "chelsea": ("skimage", "data/chelsea.png", "Chelsea the cat, Stefan van der Walt (CC0)"),  # i18n: not shown
    "coffee": ("skimage", "data/coffee.png", "a cup of coffee, Rachel Michetti (CC0)"),  # i18n: not shown
    "rocket": ("skimage", "data/rocket.jpg", "a SpaceX Falcon 9 launch (public domain)"),  # i18n: not shown
    "china": ("sklearn", "datasets/images/china.jpg",
              "a temple in China, danielbuechele on Flickr (CC BY 2.0)"),  # i18n: not shown
    "flower": ("sklearn", "datasets/images/flower.jpg",
               "a flower, vultilion on Flickr (CC BY 2.0)"),  # i18n: not shown
    # i18n: not shown
    "hubble": ("skimage", "data/hubble_deep_field.jpg", "the Hubble Deep Field, NASA (public domain)"),
    "stain": ("skimage", "data/ihc.png", "an immunohistochemistry stain (public domain)"),  # i18n: not shown
    "brick": ("skimage", "data/brick.png", "a brick wall texture (CC0)"),  # i18n: not shown
    "gravel": ("skimage", "data/gravel.png", "a gravel texture (CC0)"),  # i18n: not shown
}
CONTENT_PHOTOS = ("astronaut", "coffee", "rocket", "china")  # fast style trains on crops of these
VAL_PHOTOS = ("chelsea",)  # and is validated on a photo it never saw
