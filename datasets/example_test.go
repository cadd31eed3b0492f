package datasets_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gonomaly/gonomaly/datasets"
)

// ExampleLoadMVTec writes a tiny tree in MVTec AD layout, loads it resized to 8x8 with a validation
// split, prints its summary and streams the test split in batches.
func ExampleLoadMVTec() {
	root, _ := os.MkdirTemp("", "mvtec-example")
	defer os.RemoveAll(root)
	img := datasets.NewImage(16, 16, 3)
	mask := datasets.NewImage(16, 16, 1)
	mask.Set(4, 4, 0, 1)
	for i := 0; i < 4; i++ {
		datasets.WritePNG(filepath.Join(root, "bottle", "train", "good", fmt.Sprintf("%03d.png", i)), img)
	}
	datasets.WritePNG(filepath.Join(root, "bottle", "test", "good", "000.png"), img)
	datasets.WritePNG(filepath.Join(root, "bottle", "test", "crack", "000.png"), img)
	datasets.WritePNG(filepath.Join(root, "bottle", "ground_truth", "crack", "000_mask.png"), mask)

	cats, _ := datasets.MVTecCategories(root)
	fmt.Println("categories:", cats)
	d, err := datasets.LoadMVTec(root, "bottle", datasets.Options{ImageSize: 8, ValFraction: 0.25, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(d)
	for batch, err := range d.Test.Batches(2, 0) {
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, s := range batch {
			fmt.Printf("%s label=%d image=%dx%dx%d mask=%dx%d\n", s.ID, s.Label, s.Image.H, s.Image.W, s.Image.C, s.Mask.H, s.Mask.W)
		}
	}
	// Output:
	// categories: [bottle]
	// mvtec/bottle  train    val   test
	//   good            3      1      1
	//   crack           0      0      1
	//   total           3      1      2
	// test/crack/000.png label=1 image=8x8x3 mask=8x8
	// test/good/000.png label=0 image=8x8x3 mask=8x8
}
