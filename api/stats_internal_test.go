package api

import (
	"math"
	"testing"
)

func TestTwoProportionP(t *testing.T) {
	// 50/100 against 40/100: z = 1.421, two-sided p = 0.155.
	if p := twoProportionP(50, 100, 40, 100); math.Abs(p-0.1552) > 0.0005 {
		t.Fatalf("p = %.4f", p)
	}
	if p := twoProportionP(0, 10, 0, 10); p != 1 {
		t.Fatalf("no conversions anywhere: p = %v", p)
	}
}

// Cells a spreadsheet would run as a formula are escaped (OWASP's CSV
// injection advice); others are left as they are.
func TestCSVCellsAreNotFormulas(t *testing.T) {
	for in, want := range map[string]string{
		"=1+1": "'=1+1", "+49151": "'+49151", "-2": "'-2", "@SUM(A1)": "'@SUM(A1)", "\t=1": "'\t=1", "\r=1": "'\r=1",
		"ada": "ada", "": "", "1=1": "1=1", "journey:x:=1": "journey:x:=1", "'quoted": "'quoted",
	} {
		if got := cell(in); got != want {
			t.Errorf("cell(%q) = %q, want %q", in, got, want)
		}
	}
}
