package rd

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph"
)

// teacherTaps are the teacher scales RD distils: strides 4, 8 and 16.
var teacherTaps = []string{"layer1", "layer2", "layer3"}

// block is one residual block of the bottleneck (stride 2 first block, torchvision's BasicBlock or
// Bottleneck) or of the decoder (the official code's mirror blocks, whose stride-2 convolution is a 2x2
// transposed convolution).
func (b *net) block(scope string, x *Node, planes, stride int, up bool, cfg Config) *Node {
	kind := blockKinds[cfg.Backbone]
	cin := x.Shape().Dimensions[3]
	cout := planes * kind.expansion
	var out *Node
	if !kind.bottleneck {
		if stride == 2 && up {
			out = b.deconv2x2(scope+"/conv1", x, planes)
		} else {
			out = b.conv(scope+"/conv1", x, planes, 3, stride)
		}
		out = relu(b.batchNorm(scope+"/bn1", out))
		out = b.batchNorm(scope+"/bn2", b.conv(scope+"/conv2", out, planes, 3, 1))
	} else {
		width := planes * kind.widthMul
		out = relu(b.batchNorm(scope+"/bn1", b.conv(scope+"/conv1", x, width, 1, 1)))
		if stride == 2 && up {
			out = b.deconv2x2(scope+"/conv2", out, width)
		} else {
			out = b.conv(scope+"/conv2", out, width, 3, stride)
		}
		out = relu(b.batchNorm(scope+"/bn2", out))
		out = b.batchNorm(scope+"/bn3", b.conv(scope+"/conv3", out, cout, 1, 1))
	}
	identity := x
	if stride != 1 || cin != cout {
		if up {
			identity = b.deconv2x2(scope+"/upsample/0", x, cout)
		} else {
			identity = b.conv(scope+"/downsample/0", x, cout, 1, stride)
		}
		identity = b.batchNorm(scope+"/"+map[bool]string{true: "upsample", false: "downsample"}[up]+"/1", identity)
	}
	return relu(Add(out, identity))
}

// bottleneck is the one-class bottleneck embedding, OCBE (Deng and Li, section 3.2): multi-scale feature
// fusion of the three teacher maps down to stride 32, then a residual stage like the teacher's layer4.
func (b *net) bottleneck(f []*Node, cfg Config) *Node {
	e := blockKinds[cfg.Backbone].expansion
	must(len(f) == 3, "rd: bottleneck needs 3 teacher maps, got %d", len(f))
	// Multi-scale feature fusion (MFF): bring layer1 and layer2 to layer3's grid, concatenate.
	div := cfg.widthDiv()
	l1 := relu(b.batchNorm("bn/bn1", b.conv("bn/conv1", f[0], 128*e/div, 3, 2)))
	l1 = relu(b.batchNorm("bn/bn2", b.conv("bn/conv2", l1, 256*e/div, 3, 2)))
	l2 := relu(b.batchNorm("bn/bn3", b.conv("bn/conv3", f[1], 256*e/div, 3, 2)))
	x := Concatenate([]*Node{l1, l2, f[2]}, 3)
	// One-class embedding (OCE): residual blocks at stride 32.
	for i := 0; i < cfg.BottleneckBlocks; i++ {
		stride := 1
		if i == 0 {
			stride = 2
		}
		x = b.block(fmt.Sprintf("bn/bn_layer/%d", i), x, 512/div, stride, false, cfg)
	}
	return x
}

// decoder is the student (section 3.1): the teacher's mirror, upsampling the embedding stage by stage.
// It returns the student maps in the teacher's tap order: stride 4, 8, 16.
func (b *net) decoder(x *Node, cfg Config) []*Node {
	var outs []*Node
	div := cfg.widthDiv()
	for s, planes := range []int{256 / div, 128 / div, 64 / div} {
		for i := 0; i < cfg.DecoderBlocks[s]; i++ {
			stride := 1
			if i == 0 {
				stride = 2
			}
			x = b.block(fmt.Sprintf("decoder/layer%d/%d", s+1, i), x, planes, stride, true, cfg)
		}
		outs = append(outs, x)
	}
	return []*Node{outs[2], outs[1], outs[0]}
}

// projection is RD++'s multi-scale projection layer (Tien et al., section 3.2): per scale, four 3x3
// convolutions (c -> c/2 -> c/4 -> c/2 -> c), each with instance norm and leaky ReLU. The official
// convolutions carry a bias, which instance norm cancels exactly, so it is left out.
func (b *net) projection(f []*Node) []*Node {
	out := make([]*Node, len(f))
	for s, x := range f {
		c := x.Shape().Dimensions[3]
		for i, width := range []int{c / 2, c / 4, c / 2, c} {
			x = leakyRelu(instanceNorm(b.conv(fmt.Sprintf("proj/%d/conv%d", s, i), x, width, 3, 1)))
		}
		out[s] = x
	}
	return out
}

// distillationLoss is RD's loss (eq. 2) as the official code computes it: for each scale, 1 - cosine
// similarity between each sample's whole flattened teacher and student maps, averaged over the batch,
// summed over scales.
func distillationLoss(teacher, student []*Node) *Node {
	var total *Node
	for s := range teacher {
		n := teacher[s].Shape().Dimensions[0]
		l := ReduceAllMean(cosineDistance(Reshape(teacher[s], n, -1), Reshape(student[s], n, -1), 1))
		if total == nil {
			total = l
		} else {
			total = Add(total, l)
		}
	}
	return total
}

// anomalyMaps returns, per scale, 1 - cosine similarity along channels at every position: [N, h, w].
func anomalyMaps(teacher, student []*Node) []*Node {
	out := make([]*Node, len(teacher))
	for s := range teacher {
		out[s] = cosineDistance(teacher[s], student[s], 3)
	}
	return out
}
