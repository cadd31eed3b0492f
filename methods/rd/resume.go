package rd

// SetCheckpointDir implements methods.Resumable: Fit checkpoints to dir every CheckpointEvery steps and
// resumes from a checkpoint of the same recipe found there.
func (d *Detector) SetCheckpointDir(dir string) { d.cfg.CheckpointDir = dir }
