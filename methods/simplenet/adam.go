package simplenet

// adamScope holds the optimiser state (nn.AdamStep's), checkpointed with the model so that a resumed run
// continues exactly.
const adamScope = "/adam"
