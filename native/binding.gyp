{
  "variables": { "netcon_static_libs%": 0 },
  "targets": [
    {
      "target_name": "netcon_native",
      "sources": ["<!@(ls -1 src/*.cc)"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-O3", "-std=c++17", "-Wall", "-Wextra"],
      "ldflags": ["-Wl,-rpath,'$$ORIGIN'"],
      "conditions": [
        ["netcon_static_libs==1", {
          "libraries": ["-lsodium", "-Wl,-Bstatic", "-lcrypto", "-llz4", "-Wl,-Bdynamic", "-Wl,--exclude-libs,ALL"]
        }, {
          "libraries": ["-lsodium", "-lcrypto", "-llz4"]
        }]
      ]
    }
  ]
}
