{
  "targets": [
    {
      "target_name": "netcon_native",
      "sources": ["<!@(ls -1 src/*.cc)"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-O3", "-std=c++17", "-Wall", "-Wextra"],
      "libraries": ["-lsodium", "-lcrypto", "-llz4"],
      "ldflags": ["-Wl,-rpath,'$$ORIGIN'"]
    }
  ]
}
