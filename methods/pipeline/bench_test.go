package pipeline

import (
	"context"
	"path/filepath"
	"testing"
)

// BenchmarkPredict measures Predict per image on 16 test images (PatchCore shrunk as in the tests), with
// and without the PNG map and overlay per image: what writing the pictures adds to scoring.
//
//	go test ./methods/pipeline/ -run '^$' -bench Predict -benchtime 5x
func BenchmarkPredict(b *testing.B) {
	ctx := context.Background()
	tmp := b.TempDir()
	data := writeCarpet(b, filepath.Join(tmp, "data"))
	m, err := Fit(ctx, FitOptions{Method: "patchcore", Edit: tiny, Data: data, Out: filepath.Join(tmp, "model")})
	if err != nil {
		b.Fatal(err)
	}
	test := filepath.Join(data, "test")
	for _, pics := range []bool{false, true} {
		name := "csv-only"
		if pics {
			name = "with-pictures"
		}
		b.Run(name, func(b *testing.B) {
			n := 0
			for b.Loop() {
				rows, err := Predict(ctx, m, PredictOptions{Images: []string{test}, Out: filepath.Join(tmp, name), NoPictures: !pics})
				if err != nil {
					b.Fatal(err)
				}
				n += len(rows)
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(n), "ms/image")
		})
	}
}
