"""Training: one step (:mod:`.step`), the epoch loop around it (:mod:`.loop`) and its callbacks
(:mod:`.callbacks`), and the pieces an update uses: batching, running metrics, losses,
regularization, augmentation, schedules, early stopping, progress."""
