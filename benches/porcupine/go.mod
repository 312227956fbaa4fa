// faultline's driver for timing Porcupine (github.com/anishathalye/porcupine)
// on the same histories as faultline. Built offline by benches/porcupine.sh,
// which points the requirement below at a local checkout (PORCUPINE_SRC)
// through a generated -modfile; Porcupine's code is never copied here.
module faultline.dev/benches/porcupine

go 1.19

require github.com/anishathalye/porcupine v0.0.0-00010101000000-000000000000
