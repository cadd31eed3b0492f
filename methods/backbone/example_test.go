package backbone_test

import (
	"context"
	"fmt"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/methods/backbone"
)

type oneImage struct{ im datasets.Image }

func (o oneImage) Len() int                          { return 1 }
func (o oneImage) Image(int) (datasets.Image, error) { return o.im, nil }

// Extracting PatchCore's mid-level features. Weights "" would fetch the ImageNet checkpoint from the
// hub (or fall back to seeded weights with a notice); this example uses small seeded weights.
func ExampleBackbone_Extract() {
	b, err := backbone.New("wide_resnet50_2", backbone.Options{Weights: "random", WidthDiv: 16})
	if err != nil {
		panic(err)
	}
	feats, err := b.Extract(context.Background(), oneImage{datasets.NewImage(64, 64, 3)}, 8, "layer2", "layer3")
	if err != nil {
		panic(err)
	}
	for i, tap := range []string{"layer2", "layer3"} {
		fmt.Println(tap, feats[i].Shape().Dimensions, "stride", b.Stride(tap), "pretrained", b.Pretrained())
	}
	// Output:
	// layer2 [1 8 8 32] stride 8 pretrained false
	// layer3 [1 4 4 64] stride 16 pretrained false
}
