"""Training in phases: the resumable state, the policy that decides to continue or start,
building model, optimizer and loaders, the step, validate-and-save, and the helpers they use
(initialization, schedule, augmentation, curves)."""
