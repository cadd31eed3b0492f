package backbone

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"sort"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// WeightsSHA256 returns the SHA-256 (hex) of the backbone's weights as loaded: every parameter's name,
// shape and float32 values, in name order. Two backbones with the same digest compute the same
// features, whichever file or seed the weights came from; checkpoints record it (methods.Manifest.
// WeightsSHA256) so that Load refuses weights that would score differently. It is computed once.
//
// See also methods.CheckBackbone.
func (b *Backbone) WeightsSHA256() string {
	b.digestOnce.Do(func() {
		names := make([]string, 0, len(b.weights))
		for name := range b.weights {
			names = append(names, name)
		}
		sort.Strings(names)
		h := sha256.New()
		var buf []byte
		for _, name := range names {
			t := b.weights[name]
			buf = binary.LittleEndian.AppendUint64(buf[:0], uint64(len(name)))
			buf = append(buf, name...)
			dims := t.Shape().Dimensions
			buf = binary.LittleEndian.AppendUint64(buf, uint64(len(dims)))
			for _, d := range dims {
				buf = binary.LittleEndian.AppendUint64(buf, uint64(d))
			}
			h.Write(buf)
			tensors.MustConstFlatData(t, func(flat []float32) {
				const chunk = 1 << 14
				for lo := 0; lo < len(flat); lo += chunk {
					buf = buf[:0]
					for _, v := range flat[lo:min(lo+chunk, len(flat))] {
						buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
					}
					h.Write(buf)
				}
			})
		}
		b.digest = hex.EncodeToString(h.Sum(nil))
	})
	return b.digest
}
