package cflow

// SetCheckpointDir implements methods.Resumable: Fit checkpoints to dir every CheckpointEvery meta
// epochs and resumes from a checkpoint of the same recipe found there.
func (d *Detector) SetCheckpointDir(dir string) { d.cfg.CheckpointDir = dir }
