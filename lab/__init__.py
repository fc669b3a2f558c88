"""The Foundations tab's computations: small, in-request, instant on two cores (the tab holds no torch code).

playground.py the 2-D playground: classifiers on points in the plane with the course's knobs, trained live
optim.py    the optimiser lab: hand-written SGD, momentum, Nesterov, AdaGrad, RMSProp, Adam and AdamW racing on 2-D
            loss surfaces, with learning-rate schedules and warm-up; trajectories and loss curves as pictures
backprop.py backpropagation by hand on a two-layer network, and the gradient check that catches a planted bug
conv.py     the convolution explorer: cross-correlation, padding, stride, channels and pooling with every number
"""
