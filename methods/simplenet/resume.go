package simplenet

// SetCheckpointDir implements methods.Resumable for SimpleNet and Deep SVDD: Fit checkpoints its training
// state to dir and resumes from a checkpoint of the same recipe found there.
func (c *core) SetCheckpointDir(dir string) { c.training.CheckpointDir = dir }
