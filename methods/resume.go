package methods

// Resumable is implemented by detectors whose Fit trains and can be interrupted and resumed: with a
// checkpoint folder set, Fit saves its training state there every few steps (methods.SaveCheckpoint,
// atomic) and, when the folder already holds the state of the same recipe, continues from it instead of
// starting over. Commands and notebooks that fit any catalogue method (methods/pipeline) set it through
// this interface, since CheckpointDir is a field of each method's own Config.
type Resumable interface {
	// SetCheckpointDir sets the folder of the training checkpoint ("" turns checkpointing off).
	SetCheckpointDir(dir string)
}
