{
  "targets": [
    {
      "target_name": "jpeg_tensor",
      "sources": ["src/resample.c", "src/features.c", "src/addon.c"],
      "libraries": ["-lturbojpeg", "-lm"],
      # No fused multiply-add: the tensor must be bit-identical on amd64 and arm64 (training packs on
      # one, the device serves on the other).
      "cflags": ["-O2", "-ffp-contract=off", "-Wall", "-Wextra", "-std=c11"],
      "conditions": [
        ["OS=='linux'", {"cflags": ["-fvisibility=hidden"]}]
      ]
    }
  ]
}
