package draem

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gonomaly/gonomaly/methods/nn"
)

// convBNReLU is the authors' unit: 3x3 convolution (padding 1, with bias), batch norm, ReLU.
func convBNReLU(ctx *context.Context, x *Node, ch int) *Node {
	x = nn.Conv(ctx.In("conv"), x).Channels(ch).Kernel(3).Padding(1).Done()
	return nn.ReLU(nn.BatchNorm(ctx.In("bn"), x).Done())
}

// block is two units, the first to mid channels and the second to out.
func block(ctx *context.Context, x *Node, mid, out int) *Node {
	return convBNReLU(ctx.In("1"), convBNReLU(ctx.In("0"), x, mid), out)
}

// up is the authors' upsampling: bilinear x2 (align_corners=True), then a unit to ch channels.
func up(ctx *context.Context, x *Node, ch int) *Node {
	d := x.Shape().Dimensions
	return convBNReLU(ctx, nn.UpsampleBilinear(x, 2*d[1], 2*d[2], true), ch)
}

func pool(x *Node) *Node { return nn.MaxPool2D(x, 2, 2, 0) }

// reconstructive is the reconstructive sub-network (the authors' ReconstructiveSubNetwork): an
// encoder of five blocks (widths b, 2b, 4b, 8b, 8b, max-pooling between) and a decoder of four
// upsampling stages without skip connections, ending in a 3x3 convolution to the image's channels.
func reconstructive(ctx *context.Context, x *Node, b int) *Node {
	ctx = ctx.In("recon")
	c := x.Shape().Dimensions[3]
	e := block(ctx.In("enc1"), x, b, b)
	e = block(ctx.In("enc2"), pool(e), 2*b, 2*b)
	e = block(ctx.In("enc3"), pool(e), 4*b, 4*b)
	e = block(ctx.In("enc4"), pool(e), 8*b, 8*b)
	e = block(ctx.In("enc5"), pool(e), 8*b, 8*b)
	d := block(ctx.In("dec1"), up(ctx.In("up1"), e, 8*b), 8*b, 4*b)
	d = block(ctx.In("dec2"), up(ctx.In("up2"), d, 4*b), 4*b, 2*b)
	d = block(ctx.In("dec3"), up(ctx.In("up3"), d, 2*b), 2*b, b)
	d = block(ctx.In("dec4"), up(ctx.In("up4"), d, b), b, b)
	return nn.Conv(ctx.In("out"), d).Channels(c).Kernel(3).Padding(1).Done()
}

// discriminative is the discriminative sub-network (the authors' DiscriminativeSubNetwork): a U-Net on
// the image and its reconstruction concatenated along channels, six encoder blocks (b, 2b, 4b, 8b, 8b,
// 8b), five upsampling stages each concatenated with the encoder map of the same scale, and a 3x3
// convolution to two logits (normal, anomalous) per pixel.
func discriminative(ctx *context.Context, x *Node, b int) *Node {
	ctx = ctx.In("disc")
	e1 := block(ctx.In("enc1"), x, b, b)
	e2 := block(ctx.In("enc2"), pool(e1), 2*b, 2*b)
	e3 := block(ctx.In("enc3"), pool(e2), 4*b, 4*b)
	e4 := block(ctx.In("enc4"), pool(e3), 8*b, 8*b)
	e5 := block(ctx.In("enc5"), pool(e4), 8*b, 8*b)
	e6 := block(ctx.In("enc6"), pool(e5), 8*b, 8*b)
	skip := func(i int, d, e *Node, ch, out int) *Node {
		u := up(ctx.In(fmt.Sprintf("up%d", i)), d, ch)
		return block(ctx.In(fmt.Sprintf("dec%d", i)), Concatenate([]*Node{u, e}, 3), out, out)
	}
	d := skip(0, e6, e5, 8*b, 8*b)
	d = skip(1, d, e4, 4*b, 4*b)
	d = skip(2, d, e3, 2*b, 2*b)
	d = skip(3, d, e2, b, b)
	d = skip(4, d, e1, b, b)
	return nn.Conv(ctx.In("out"), d).Channels(2).Kernel(3).Padding(1).Done()
}

// focalSmooth is the label smoothing of the authors' focal loss (clamping the one-hot target to
// [smooth, 1-smooth]) and the floor added to the true-class probability before its logarithm.
const focalSmooth = 1e-5

// FocalLoss is the focal loss (Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017) as
// DRAEM's code computes it, averaged over pixels: with p the softmax of logits [N,H,W,2] and the
// target one-hot of mask [N,H,W,1] (1 anomalous) clamped to [1e-5, 1-1e-5], pt = Σ target·p + 1e-5 and
// the loss is -(1-pt)^gamma · log(pt). Written without slicing so its gradient needs no Pad.
func FocalLoss(logits, mask *Node, gamma float64) *Node {
	p := Softmax(logits, -1)
	lo, hi := focalSmooth, 1-focalSmooth
	// One-hot [normal, anomalous] of the mask, clamped: normal = 1-m, anomalous = m.
	m := ClipScalar(mask, 0, 1)
	target := Concatenate([]*Node{OneMinus(m), m}, 3)
	target = AddScalar(MulScalar(target, hi-lo), lo)
	pt := AddScalar(ReduceSum(Mul(target, p), -1), focalSmooth)
	return ReduceAllMean(Neg(Mul(Pow(MaxScalar(OneMinus(pt), 0), ConstAs(pt, gamma)), Log(pt))))
}

// anomalousProbability is the softmax probability of the anomalous class [N,H,W], from logits
// [N,H,W,2]: sigmoid of the logit difference, which needs no slicing.
func anomalousProbability(logits *Node) *Node {
	diff := ReduceSum(Mul(logits, Reshape(ConstAs(logits, []float32{-1, 1}), 1, 1, 1, 2)), -1)
	return nn.Sigmoid(diff)
}
