// Package rd implements the teacher-student family's Reverse Distillation and its successor RD++.
//
// Reverse Distillation (Deng and Li, "Anomaly Detection via Reverse Distillation From One-Class
// Embedding", CVPR 2022): a frozen pretrained teacher encodes an image at three scales; a trainable
// one-class bottleneck embedding (OCBE) fuses them into one compact code; a student decoder, the
// teacher's mirror, must rebuild the teacher's three feature maps from that code. Trained on normal
// images only, the student fails where the image is anomalous, and the per-pixel cosine distance between
// teacher and student features is the anomaly map.
//
// RD++ (Tien et al., "Revisiting Reverse Distillation for Anomaly Detection", CVPR 2023) inserts a
// multi-scale projection between teacher and bottleneck, trained with pseudo-anomalies (noise added to
// normal images) so that the projection maps noisy features back to normal ones: a self-supervised
// optimal-transport term, a reconstruction term and a contrast term.
//
// The teacher's features are computed once per image (it is frozen and RD uses no augmentation), so an
// epoch trains only the bottleneck and decoder: on the pure-Go backend that is the difference between
// minutes and hours.
package rd
