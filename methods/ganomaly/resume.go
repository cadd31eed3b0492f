package ganomaly

// SetCheckpointDir implements methods.Resumable: Fit checkpoints its training state to dir and resumes
// from a checkpoint of the same recipe found there (what gonomaly fit does after an interruption).
func (d *Detector) SetCheckpointDir(dir string) { d.cfg.CheckpointDir = dir }
