"""Figures of every oha report in the LiveWyer 2024 study, read off the text itself.

One line per file under ``shared/real-data/livewyer-poc-servicemesh2024/network-tests/``
(path relative to that folder): Total (s), Requests/sec, the 50% and 99% rows of
"Response time distribution" (s), the ``[200]`` responses and the "Error
distribution" count, as the report prints them. They were taken from the text with
grep and awk (colour codes removed with sed), not with the reader under test, and
spot-checked by eye against the files.
"""

from __future__ import annotations

_TABLE = """
v3/oha-results/baseline/pod/test-productpage.bookinfo-basic.svc-128-300000.txt 1962.8008 152.8428 0.8319 1.1630 300000 0
v3/oha-results/baseline/pod/test-productpage.bookinfo-basic.svc-32-300000.txt 1905.4200 157.4456 0.2017 0.2891 300000 0
v3/oha-results/baseline/pod/test-productpage.bookinfo-basic.svc-64-300000.txt 1936.5763 154.9126 0.4101 0.5850 300000 0
v3/oha-results/baseline/vm/test-bookinfo-basic-128-300000.txt 2230.1591 134.5196 0.8579 3.0331 300000 0
v3/oha-results/baseline/vm/test-bookinfo-basic-32-300000.txt 1955.4436 153.4179 0.2070 0.2934 300000 0
v3/oha-results/baseline/vm/test-bookinfo-basic-64-300000.txt 1985.5092 151.0947 0.4208 0.5981 300000 0
v3/oha-results/cilium/pod/test-productpage.bookinfo-basic.svc-128-300000.txt 2582.3604 116.1728 1.0934 1.5055 300000 0
v3/oha-results/cilium/pod/test-productpage.bookinfo-basic.svc-32-300000.txt 2501.3887 119.9334 0.2646 0.3843 300000 0
v3/oha-results/cilium/pod/test-productpage.bookinfo-basic.svc-64-300000.txt 2538.3152 118.1886 0.5375 0.7493 299999 1
v3/oha-results/cilium/vm/test-bookinfo-basic-128-300000.txt 2760.3969 108.6800 1.1709 1.6157 300000 0
v3/oha-results/cilium/vm/test-bookinfo-basic-32-300000.txt 2696.0150 111.2753 0.2852 0.4222 300000 0
v3/oha-results/cilium/vm/test-bookinfo-basic-64-300000.txt 2665.2630 112.5592 0.5674 0.8134 300000 0
v3/oha-results/istio/pod/test-productpage.bookinfo-basic.svc-128-300000.txt 2525.5519 118.7859 1.0696 1.5577 300000 0
v3/oha-results/istio/pod/test-productpage.bookinfo-basic.svc-32-300000.txt 2494.2895 120.2747 0.2641 0.3872 300000 0
v3/oha-results/istio/pod/test-productpage.bookinfo-basic.svc-64-300000.txt 2499.9058 120.0045 0.5286 0.7774 300000 0
v3/oha-results/istio/vm/test-bookinfo-basic-128-300000.txt 2563.4213 117.0311 1.0867 1.5763 300000 0
v3/oha-results/istio/vm/test-bookinfo-basic-32-300000.txt 2516.1863 119.2281 0.2664 0.3874 300000 0
v3/oha-results/istio/vm/test-bookinfo-basic-64-300000.txt 2542.2097 118.0076 0.5380 0.7892 300000 0
v3/oha-results/linkerd/pod/test-productpage.bookinfo-basic.svc-128-300000.txt 2095.0241 143.1964 0.8865 1.2693 300000 0
v3/oha-results/linkerd/pod/test-productpage.bookinfo-basic.svc-32-300000.txt 2043.7062 146.7921 0.2164 0.3059 300000 0
v3/oha-results/linkerd/pod/test-productpage.bookinfo-basic.svc-64-300000.txt 2072.4030 144.7595 0.4380 0.6340 300000 0
v3/oha-results/linkerd/vm/test-bookinfo-basic-128-300000.txt 2154.8882 139.2184 0.9115 1.3115 300000 0
v3/oha-results/linkerd/vm/test-bookinfo-basic-32-300000.txt 2098.4261 142.9643 0.2224 0.3137 300000 0
v3/oha-results/linkerd/vm/test-bookinfo-basic-64-300000.txt 2122.3329 141.3539 0.4489 0.6461 300000 0
v3/s3-bucket/baseline-service-mesh-poc-pod-baseline/test-productpage.bookinfo-basic.svc-128-100000.txt 660.1765 151.4746 0.8379 1.1915 100000 0
v3/s3-bucket/baseline-service-mesh-poc-pod-baseline/test-productpage.bookinfo-basic.svc-32-10000.txt 64.2393 155.6678 0.2031 0.3190 10000 0
v3/s3-bucket/baseline-service-mesh-poc-pod-baseline/test-productpage.bookinfo-basic.svc-32-100000.txt 633.8296 157.7711 0.2011 0.2902 100000 0
v3/s3-bucket/baseline-service-mesh-poc-pod-baseline/test-productpage.bookinfo-basic.svc-64-100000.txt 656.0883 152.4185 0.4164 0.5957 100000 0
v3/s3-bucket/baseline-service-mesh-poc-pod-meshed/test-productpage.bookinfo-basic.svc-128-300000.txt 1962.8008 152.8428 0.8319 1.1630 300000 0
v3/s3-bucket/baseline-service-mesh-poc-pod-meshed/test-productpage.bookinfo-basic.svc-32-10000.txt 63.8799 156.5439 0.2025 0.2898 10000 0
v3/s3-bucket/baseline-service-mesh-poc-pod-meshed/test-productpage.bookinfo-basic.svc-32-300000.txt 1905.4200 157.4456 0.2017 0.2891 300000 0
v3/s3-bucket/baseline-service-mesh-poc-pod-meshed/test-productpage.bookinfo-basic.svc-64-300000.txt 1936.5763 154.9126 0.4101 0.5850 300000 0
v3/s3-bucket/baseline-service-mesh-poc-vm-meshed/test-bookinfo-basic-128-300000.txt 2230.1591 134.5196 0.8579 3.0331 300000 0
v3/s3-bucket/baseline-service-mesh-poc-vm-meshed/test-bookinfo-basic-32-10000.txt 64.9874 153.8759 0.2064 0.2972 10000 0
v3/s3-bucket/baseline-service-mesh-poc-vm-meshed/test-bookinfo-basic-32-300000.txt 1955.4436 153.4179 0.2070 0.2934 300000 0
v3/s3-bucket/baseline-service-mesh-poc-vm-meshed/test-bookinfo-basic-64-300000.txt 1985.5092 151.0947 0.4208 0.5981 300000 0
v3/s3-bucket/cilium-service-mesh-poc-pod-baseline/test-productpage.bookinfo-basic.svc-128-100000.txt 815.3830 122.6417 1.0362 1.4074 100000 0
v3/s3-bucket/cilium-service-mesh-poc-pod-baseline/test-productpage.bookinfo-basic.svc-32-10000.txt 82.4024 121.3557 0.2616 0.3775 10000 0
v3/s3-bucket/cilium-service-mesh-poc-pod-baseline/test-productpage.bookinfo-basic.svc-32-100000.txt 826.4249 121.0031 0.2616 0.3863 100000 0
v3/s3-bucket/cilium-service-mesh-poc-pod-baseline/test-productpage.bookinfo-basic.svc-64-100000.txt 803.1736 124.5061 0.5100 0.7044 100000 0
v3/s3-bucket/cilium-service-mesh-poc-pod-meshed/test-productpage.bookinfo-basic.svc-128-300000.txt 2582.3604 116.1728 1.0934 1.5055 300000 0
v3/s3-bucket/cilium-service-mesh-poc-pod-meshed/test-productpage.bookinfo-basic.svc-32-10000.txt 83.4843 119.7831 0.2643 0.3944 10000 0
v3/s3-bucket/cilium-service-mesh-poc-pod-meshed/test-productpage.bookinfo-basic.svc-32-300000.txt 2501.3887 119.9334 0.2646 0.3843 300000 0
v3/s3-bucket/cilium-service-mesh-poc-pod-meshed/test-productpage.bookinfo-basic.svc-64-300000.txt 2538.3152 118.1886 0.5375 0.7493 299999 1
v3/s3-bucket/cilium-service-mesh-poc-vm-meshed/test-bookinfo-basic-128-300000.txt 2760.3969 108.6800 1.1709 1.6157 300000 0
v3/s3-bucket/cilium-service-mesh-poc-vm-meshed/test-bookinfo-basic-32-10000.txt 89.4568 111.7858 0.2839 0.4232 10000 0
v3/s3-bucket/cilium-service-mesh-poc-vm-meshed/test-bookinfo-basic-32-300000.txt 2696.0150 111.2753 0.2852 0.4222 300000 0
v3/s3-bucket/cilium-service-mesh-poc-vm-meshed/test-bookinfo-basic-64-300000.txt 2665.2630 112.5592 0.5674 0.8134 300000 0
v3/s3-bucket/istio-service-mesh-poc-pod-baseline/test-productpage.bookinfo-basic.svc-128-100000.txt 545.7858 183.2221 0.6921 0.8672 100000 0
v3/s3-bucket/istio-service-mesh-poc-pod-baseline/test-productpage.bookinfo-basic.svc-32-10000.txt 63.8872 156.5258 0.2025 0.2948 10000 0
v3/s3-bucket/istio-service-mesh-poc-pod-baseline/test-productpage.bookinfo-basic.svc-32-100000.txt 638.8239 156.5377 0.2028 0.2937 100000 0
v3/s3-bucket/istio-service-mesh-poc-pod-baseline/test-productpage.bookinfo-basic.svc-64-100000.txt 536.2574 186.4776 0.3395 0.4464 100000 0
v3/s3-bucket/istio-service-mesh-poc-pod-meshed/test-productpage.bookinfo-basic.svc-128-300000.txt 2525.5519 118.7859 1.0696 1.5577 300000 0
v3/s3-bucket/istio-service-mesh-poc-pod-meshed/test-productpage.bookinfo-basic.svc-32-10000.txt 83.8333 119.2843 0.2644 0.4100 10000 0
v3/s3-bucket/istio-service-mesh-poc-pod-meshed/test-productpage.bookinfo-basic.svc-32-300000.txt 2494.2895 120.2747 0.2641 0.3872 300000 0
v3/s3-bucket/istio-service-mesh-poc-pod-meshed/test-productpage.bookinfo-basic.svc-64-300000.txt 2499.9058 120.0045 0.5286 0.7774 300000 0
v3/s3-bucket/istio-service-mesh-poc-vm-meshed/test-bookinfo-basic-128-300000.txt 2563.4213 117.0311 1.0867 1.5763 300000 0
v3/s3-bucket/istio-service-mesh-poc-vm-meshed/test-bookinfo-basic-32-10000.txt 83.2683 120.0937 0.2647 0.3828 10000 0
v3/s3-bucket/istio-service-mesh-poc-vm-meshed/test-bookinfo-basic-32-300000.txt 2516.1863 119.2281 0.2664 0.3874 300000 0
v3/s3-bucket/istio-service-mesh-poc-vm-meshed/test-bookinfo-basic-64-300000.txt 2542.2097 118.0076 0.5380 0.7892 300000 0
v3/s3-bucket/linkerd-service-mesh-poc-pod-baseline/test-productpage.bookinfo-basic.svc-128-100000.txt 633.8264 157.7719 0.8041 1.1310 100000 0
v3/s3-bucket/linkerd-service-mesh-poc-pod-baseline/test-productpage.bookinfo-basic.svc-32-10000.txt 62.9720 158.8008 0.1992 0.2951 10000 0
v3/s3-bucket/linkerd-service-mesh-poc-pod-baseline/test-productpage.bookinfo-basic.svc-32-100000.txt 631.5446 158.3419 0.2003 0.2923 100000 0
v3/s3-bucket/linkerd-service-mesh-poc-pod-baseline/test-productpage.bookinfo-basic.svc-64-100000.txt 621.9210 160.7921 0.3951 0.5612 100000 0
v3/s3-bucket/linkerd-service-mesh-poc-pod-meshed/test-productpage.bookinfo-basic.svc-128-300000.txt 2095.0241 143.1964 0.8865 1.2693 300000 0
v3/s3-bucket/linkerd-service-mesh-poc-pod-meshed/test-productpage.bookinfo-basic.svc-32-10000.txt 72.8794 137.2130 0.2260 0.3487 10000 0
v3/s3-bucket/linkerd-service-mesh-poc-pod-meshed/test-productpage.bookinfo-basic.svc-32-300000.txt 2043.7062 146.7921 0.2164 0.3059 300000 0
v3/s3-bucket/linkerd-service-mesh-poc-pod-meshed/test-productpage.bookinfo-basic.svc-64-300000.txt 2072.4030 144.7595 0.4380 0.6340 300000 0
v3/s3-bucket/linkerd-service-mesh-poc-vm-meshed/test-bookinfo-basic-128-300000.txt 2154.8882 139.2184 0.9115 1.3115 300000 0
v3/s3-bucket/linkerd-service-mesh-poc-vm-meshed/test-bookinfo-basic-32-10000.txt 69.9150 143.0307 0.2226 0.3139 10000 0
v3/s3-bucket/linkerd-service-mesh-poc-vm-meshed/test-bookinfo-basic-32-300000.txt 2098.4261 142.9643 0.2224 0.3137 300000 0
v3/s3-bucket/linkerd-service-mesh-poc-vm-meshed/test-bookinfo-basic-64-300000.txt 2122.3329 141.3539 0.4489 0.6461 300000 0
v4/oha-results/baseline/pod/test-productpage.bookinfo-basic.svc-128-300000.txt 1933.7084 155.1423 0.8022 1.2044 300000 0
v4/oha-results/baseline/pod/test-productpage.bookinfo-basic.svc-32-10000.txt 60.6152 164.9752 0.1922 0.2834 10000 0
v4/oha-results/baseline/pod/test-productpage.bookinfo-basic.svc-32-300000.txt 2085.7161 143.8355 0.2197 0.3289 300000 0
v4/oha-results/baseline/pod/test-productpage.bookinfo-basic.svc-64-300000.txt 1824.6383 164.4161 0.3836 0.5798 300000 0
v4/oha-results/baseline/vm/test-bookinfo-basic-128-300000.txt 1909.9278 157.0740 0.8097 1.1305 299999 1
v4/oha-results/baseline/vm/test-bookinfo-basic-32-10000.txt 61.9784 161.3466 0.1966 0.2778 10000 0
v4/oha-results/baseline/vm/test-bookinfo-basic-32-300000.txt 1892.6016 158.5120 0.1998 0.2902 300000 0
v4/oha-results/baseline/vm/test-bookinfo-basic-64-300000.txt 1903.8515 157.5753 0.4021 0.5827 300000 0
v4/oha-results/istio-ambient/pod/test-productpage.bookinfo-basic.svc-128-300000.txt 2380.6647 126.0152 1.0122 1.3512 300000 0
v4/oha-results/istio-ambient/pod/test-productpage.bookinfo-basic.svc-32-10000.txt 75.9961 131.5858 0.2421 0.3558 10000 0
v4/oha-results/istio-ambient/pod/test-productpage.bookinfo-basic.svc-32-300000.txt 2295.2234 130.7062 0.2437 0.3539 300000 0
v4/oha-results/istio-ambient/pod/test-productpage.bookinfo-basic.svc-64-300000.txt 2345.4842 127.9054 0.4990 0.6940 300000 0
v4/oha-results/istio-ambient/vm/test-bookinfo-basic-128-300000.txt 2462.3441 121.8351 1.0463 1.3943 300000 0
v4/oha-results/istio-ambient/vm/test-bookinfo-basic-32-10000.txt 78.5545 127.3001 0.2503 0.3577 10000 0
v4/oha-results/istio-ambient/vm/test-bookinfo-basic-32-300000.txt 2373.0199 126.4212 0.2519 0.3613 300000 0
v4/oha-results/istio-ambient/vm/test-bookinfo-basic-64-300000.txt 2423.0802 123.8094 0.5153 0.7063 300000 0
v4/oha-results/istio-sidecar/pod/test-productpage.bookinfo-basic.svc-128-300000.txt 2458.1326 122.0439 1.0411 1.5127 300000 0
v4/oha-results/istio-sidecar/pod/test-productpage.bookinfo-basic.svc-32-10000.txt 80.2292 124.6429 0.2551 0.3730 10000 0
v4/oha-results/istio-sidecar/pod/test-productpage.bookinfo-basic.svc-32-300000.txt 2408.9405 124.5361 0.2548 0.3740 300000 0
v4/oha-results/istio-sidecar/pod/test-productpage.bookinfo-basic.svc-64-300000.txt 2431.2871 123.3914 0.5145 0.7527 300000 0
v4/oha-results/istio-sidecar/vm/test-bookinfo-basic-128-300000.txt 2534.2888 118.3764 1.0732 1.5520 300000 0
v4/oha-results/istio-sidecar/vm/test-bookinfo-basic-32-10000.txt 80.9966 123.4619 0.2565 0.3724 10000 0
v4/oha-results/istio-sidecar/vm/test-bookinfo-basic-32-300000.txt 2455.7566 122.1619 0.2599 0.3773 300000 0
v4/oha-results/istio-sidecar/vm/test-bookinfo-basic-64-300000.txt 2500.5941 119.9715 0.5287 0.7706 300000 0
v4/s3-bucket/baseline-service-mesh-poc-pod-meshed/test-productpage.bookinfo-basic.svc-128-300000.txt 1933.7084 155.1423 0.8022 1.2044 300000 0
v4/s3-bucket/baseline-service-mesh-poc-pod-meshed/test-productpage.bookinfo-basic.svc-32-10000.txt 60.6152 164.9752 0.1922 0.2834 10000 0
v4/s3-bucket/baseline-service-mesh-poc-pod-meshed/test-productpage.bookinfo-basic.svc-32-300000.txt 2085.7161 143.8355 0.2197 0.3289 300000 0
v4/s3-bucket/baseline-service-mesh-poc-pod-meshed/test-productpage.bookinfo-basic.svc-64-300000.txt 1824.6383 164.4161 0.3836 0.5798 300000 0
v4/s3-bucket/baseline-service-mesh-poc-vm-meshed/test-bookinfo-basic-128-300000.txt 1909.9278 157.0740 0.8097 1.1305 299999 1
v4/s3-bucket/baseline-service-mesh-poc-vm-meshed/test-bookinfo-basic-32-10000.txt 61.9784 161.3466 0.1966 0.2778 10000 0
v4/s3-bucket/baseline-service-mesh-poc-vm-meshed/test-bookinfo-basic-32-300000.txt 1892.6016 158.5120 0.1998 0.2902 300000 0
v4/s3-bucket/baseline-service-mesh-poc-vm-meshed/test-bookinfo-basic-64-300000.txt 1903.8515 157.5753 0.4021 0.5827 300000 0
v4/s3-bucket/istio-ambient-service-mesh-poc-pod-meshed/test-productpage.bookinfo-basic.svc-128-300000.txt 2380.6647 126.0152 1.0122 1.3512 300000 0
v4/s3-bucket/istio-ambient-service-mesh-poc-pod-meshed/test-productpage.bookinfo-basic.svc-32-10000.txt 75.9961 131.5858 0.2421 0.3558 10000 0
v4/s3-bucket/istio-ambient-service-mesh-poc-pod-meshed/test-productpage.bookinfo-basic.svc-32-300000.txt 2295.2234 130.7062 0.2437 0.3539 300000 0
v4/s3-bucket/istio-ambient-service-mesh-poc-pod-meshed/test-productpage.bookinfo-basic.svc-64-300000.txt 2345.4842 127.9054 0.4990 0.6940 300000 0
v4/s3-bucket/istio-ambient-service-mesh-poc-vm-meshed/test-bookinfo-basic-128-300000.txt 2462.3441 121.8351 1.0463 1.3943 300000 0
v4/s3-bucket/istio-ambient-service-mesh-poc-vm-meshed/test-bookinfo-basic-32-10000.txt 78.5545 127.3001 0.2503 0.3577 10000 0
v4/s3-bucket/istio-ambient-service-mesh-poc-vm-meshed/test-bookinfo-basic-32-300000.txt 2373.0199 126.4212 0.2519 0.3613 300000 0
v4/s3-bucket/istio-ambient-service-mesh-poc-vm-meshed/test-bookinfo-basic-64-300000.txt 2423.0802 123.8094 0.5153 0.7063 300000 0
v4/s3-bucket/istio-sidecar-service-mesh-poc-pod-meshed/test-productpage.bookinfo-basic.svc-128-300000.txt 2458.1326 122.0439 1.0411 1.5127 300000 0
v4/s3-bucket/istio-sidecar-service-mesh-poc-pod-meshed/test-productpage.bookinfo-basic.svc-32-10000.txt 80.2292 124.6429 0.2551 0.3730 10000 0
v4/s3-bucket/istio-sidecar-service-mesh-poc-pod-meshed/test-productpage.bookinfo-basic.svc-32-300000.txt 2408.9405 124.5361 0.2548 0.3740 300000 0
v4/s3-bucket/istio-sidecar-service-mesh-poc-pod-meshed/test-productpage.bookinfo-basic.svc-64-300000.txt 2431.2871 123.3914 0.5145 0.7527 300000 0
v4/s3-bucket/istio-sidecar-service-mesh-poc-vm-meshed/test-bookinfo-basic-128-300000.txt 2534.2888 118.3764 1.0732 1.5520 300000 0
v4/s3-bucket/istio-sidecar-service-mesh-poc-vm-meshed/test-bookinfo-basic-32-10000.txt 80.9966 123.4619 0.2565 0.3724 10000 0
v4/s3-bucket/istio-sidecar-service-mesh-poc-vm-meshed/test-bookinfo-basic-32-300000.txt 2455.7566 122.1619 0.2599 0.3773 300000 0
v4/s3-bucket/istio-sidecar-service-mesh-poc-vm-meshed/test-bookinfo-basic-64-300000.txt 2500.5941 119.9715 0.5287 0.7706 300000 0
v5/oha-results/istio-ambient/replica-1/test-productpage.bookinfo-basic.svc-128-30000.txt 191.8852 156.3435 0.8108 1.0016 30000 0
v5/oha-results/istio-ambient/replica-1/test-productpage.bookinfo-basic.svc-32-30000.txt 188.3551 159.2736 0.1990 0.2536 30000 0
v5/oha-results/istio-ambient/replica-1/test-productpage.bookinfo-basic.svc-64-30000.txt 185.7739 161.4867 0.3916 0.4804 30000 0
v5/oha-results/istio-ambient/replica-2/test-productpage.bookinfo-basic.svc-128-30000.txt 139.4343 215.1551 0.5905 1.3207 30000 0
v5/oha-results/istio-ambient/replica-2/test-productpage.bookinfo-basic.svc-32-30000.txt 138.2387 217.0160 0.1500 0.3144 30000 0
v5/oha-results/istio-ambient/replica-2/test-productpage.bookinfo-basic.svc-64-30000.txt 138.2287 217.0317 0.2965 0.6369 30000 0
v5/oha-results/istio-ambient/replica-4/test-productpage.bookinfo-basic.svc-128-30000.txt 127.7161 234.8959 0.5374 0.7075 30000 0
v5/oha-results/istio-ambient/replica-4/test-productpage.bookinfo-basic.svc-32-30000.txt 126.3980 237.3456 0.1244 0.3468 30000 0
v5/oha-results/istio-ambient/replica-4/test-productpage.bookinfo-basic.svc-64-30000.txt 127.5026 235.2894 0.2632 0.4909 30000 0
v5/oha-results/istio-ambient/replica-6/test-productpage.bookinfo-basic.svc-128-30000.txt 128.4507 233.5527 0.5442 0.6367 30000 0
v5/oha-results/istio-ambient/replica-6/test-productpage.bookinfo-basic.svc-32-30000.txt 127.3926 235.4924 0.1335 0.1975 30000 0
v5/oha-results/istio-ambient/replica-6/test-productpage.bookinfo-basic.svc-64-30000.txt 127.7060 234.9146 0.2692 0.3491 30000 0
v5/oha-results/istio-ambient/replica-8/test-productpage.bookinfo-basic.svc-128-30000.txt 129.4417 231.7646 0.5492 0.6342 30000 0
v5/oha-results/istio-ambient/replica-8/test-productpage.bookinfo-basic.svc-32-30000.txt 128.3524 233.7315 0.1348 0.1906 30000 0
v5/oha-results/istio-ambient/replica-8/test-productpage.bookinfo-basic.svc-64-30000.txt 129.9239 230.9043 0.2722 0.3623 30000 0
v5/oha-results/istio-sidecar/replica-1/test-productpage.bookinfo-basic.svc-128-30000.txt 188.0746 159.5111 0.7938 0.9934 30000 0
v5/oha-results/istio-sidecar/replica-1/test-productpage.bookinfo-basic.svc-32-30000.txt 182.2396 164.6185 0.1936 0.2386 30000 0
v5/oha-results/istio-sidecar/replica-1/test-productpage.bookinfo-basic.svc-64-30000.txt 185.1867 161.9987 0.3912 0.4880 30000 0
v5/oha-results/istio-sidecar/replica-2/test-productpage.bookinfo-basic.svc-128-30000.txt 134.3629 223.2759 0.5683 0.7943 30000 0
v5/oha-results/istio-sidecar/replica-2/test-productpage.bookinfo-basic.svc-32-30000.txt 130.1943 230.4249 0.1387 0.1987 30000 0
v5/oha-results/istio-sidecar/replica-2/test-productpage.bookinfo-basic.svc-64-30000.txt 132.1584 227.0003 0.2796 0.3898 30000 0
v5/oha-results/istio-sidecar/replica-4/test-productpage.bookinfo-basic.svc-128-30000.txt 118.9651 252.1749 0.4160 3.1309 30000 0
v5/oha-results/istio-sidecar/replica-4/test-productpage.bookinfo-basic.svc-32-30000.txt 113.2256 264.9578 0.1182 0.2209 30000 0
v5/oha-results/istio-sidecar/replica-4/test-productpage.bookinfo-basic.svc-64-30000.txt 114.4486 262.1263 0.2285 0.6631 30000 0
v5/oha-results/istio-sidecar/replica-6/test-productpage.bookinfo-basic.svc-128-30000.txt 120.2744 249.4296 0.3146 3.0715 30000 0
v5/oha-results/istio-sidecar/replica-6/test-productpage.bookinfo-basic.svc-32-30000.txt 115.0794 260.6896 0.1158 0.2945 30000 0
v5/oha-results/istio-sidecar/replica-6/test-productpage.bookinfo-basic.svc-64-30000.txt 116.0529 258.5027 0.2035 0.8486 30000 0
v5/oha-results/istio-sidecar/replica-8/test-productpage.bookinfo-basic.svc-128-30000.txt 124.1881 241.5691 0.3169 3.0637 30000 0
v5/oha-results/istio-sidecar/replica-8/test-productpage.bookinfo-basic.svc-32-30000.txt 116.9017 256.6258 0.1156 0.3205 30000 0
v5/oha-results/istio-sidecar/replica-8/test-productpage.bookinfo-basic.svc-64-30000.txt 118.9576 252.1908 0.2009 0.9205 30000 0
v5/s3-bucket/istio-ambient-service-mesh-poc-replica-1/test-productpage.bookinfo-basic.svc-128-30000.txt 191.8852 156.3435 0.8108 1.0016 30000 0
v5/s3-bucket/istio-ambient-service-mesh-poc-replica-1/test-productpage.bookinfo-basic.svc-32-10000.txt 62.6484 159.6210 0.1988 0.2480 10000 0
v5/s3-bucket/istio-ambient-service-mesh-poc-replica-1/test-productpage.bookinfo-basic.svc-32-30000.txt 188.3551 159.2736 0.1990 0.2536 30000 0
v5/s3-bucket/istio-ambient-service-mesh-poc-replica-1/test-productpage.bookinfo-basic.svc-64-30000.txt 185.7739 161.4867 0.3916 0.4804 30000 0
v5/s3-bucket/istio-ambient-service-mesh-poc-replica-2/test-productpage.bookinfo-basic.svc-128-30000.txt 139.4343 215.1551 0.5905 1.3207 30000 0
v5/s3-bucket/istio-ambient-service-mesh-poc-replica-2/test-productpage.bookinfo-basic.svc-32-10000.txt 47.0081 212.7294 0.1528 0.3254 10000 0
v5/s3-bucket/istio-ambient-service-mesh-poc-replica-2/test-productpage.bookinfo-basic.svc-32-30000.txt 138.2387 217.0160 0.1500 0.3144 30000 0
v5/s3-bucket/istio-ambient-service-mesh-poc-replica-2/test-productpage.bookinfo-basic.svc-64-30000.txt 138.2287 217.0317 0.2965 0.6369 30000 0
v5/s3-bucket/istio-ambient-service-mesh-poc-replica-4/test-productpage.bookinfo-basic.svc-128-30000.txt 127.7161 234.8959 0.5374 0.7075 30000 0
v5/s3-bucket/istio-ambient-service-mesh-poc-replica-4/test-productpage.bookinfo-basic.svc-32-10000.txt 41.8727 238.8192 0.1252 0.3452 10000 0
v5/s3-bucket/istio-ambient-service-mesh-poc-replica-4/test-productpage.bookinfo-basic.svc-32-30000.txt 126.3980 237.3456 0.1244 0.3468 30000 0
v5/s3-bucket/istio-ambient-service-mesh-poc-replica-4/test-productpage.bookinfo-basic.svc-64-30000.txt 127.5026 235.2894 0.2632 0.4909 30000 0
v5/s3-bucket/istio-ambient-service-mesh-poc-replica-6/test-productpage.bookinfo-basic.svc-128-30000.txt 128.4507 233.5527 0.5442 0.6367 30000 0
v5/s3-bucket/istio-ambient-service-mesh-poc-replica-6/test-productpage.bookinfo-basic.svc-32-10000.txt 42.7200 234.0824 0.1334 0.1990 10000 0
v5/s3-bucket/istio-ambient-service-mesh-poc-replica-6/test-productpage.bookinfo-basic.svc-32-30000.txt 127.3926 235.4924 0.1335 0.1975 30000 0
v5/s3-bucket/istio-ambient-service-mesh-poc-replica-6/test-productpage.bookinfo-basic.svc-64-30000.txt 127.7060 234.9146 0.2692 0.3491 30000 0
v5/s3-bucket/istio-ambient-service-mesh-poc-replica-8/test-productpage.bookinfo-basic.svc-128-30000.txt 129.4417 231.7646 0.5492 0.6342 30000 0
v5/s3-bucket/istio-ambient-service-mesh-poc-replica-8/test-productpage.bookinfo-basic.svc-32-10000.txt 42.8561 233.3392 0.1353 0.1850 10000 0
v5/s3-bucket/istio-ambient-service-mesh-poc-replica-8/test-productpage.bookinfo-basic.svc-32-30000.txt 128.3524 233.7315 0.1348 0.1906 30000 0
v5/s3-bucket/istio-ambient-service-mesh-poc-replica-8/test-productpage.bookinfo-basic.svc-64-30000.txt 129.9239 230.9043 0.2722 0.3623 30000 0
v5/s3-bucket/istio-sidecar-service-mesh-poc-replica-1/test-productpage.bookinfo-basic.svc-128-30000.txt 188.0746 159.5111 0.7938 0.9934 30000 0
v5/s3-bucket/istio-sidecar-service-mesh-poc-replica-1/test-productpage.bookinfo-basic.svc-32-10000.txt 61.1932 163.4170 0.1947 0.2434 10000 0
v5/s3-bucket/istio-sidecar-service-mesh-poc-replica-1/test-productpage.bookinfo-basic.svc-32-30000.txt 182.2396 164.6185 0.1936 0.2386 30000 0
v5/s3-bucket/istio-sidecar-service-mesh-poc-replica-1/test-productpage.bookinfo-basic.svc-64-30000.txt 185.1867 161.9987 0.3912 0.4880 30000 0
v5/s3-bucket/istio-sidecar-service-mesh-poc-replica-2/test-productpage.bookinfo-basic.svc-128-30000.txt 134.3629 223.2759 0.5683 0.7943 30000 0
v5/s3-bucket/istio-sidecar-service-mesh-poc-replica-2/test-productpage.bookinfo-basic.svc-32-10000.txt 43.5609 229.5639 0.1392 0.1999 10000 0
v5/s3-bucket/istio-sidecar-service-mesh-poc-replica-2/test-productpage.bookinfo-basic.svc-32-30000.txt 130.1943 230.4249 0.1387 0.1987 30000 0
v5/s3-bucket/istio-sidecar-service-mesh-poc-replica-2/test-productpage.bookinfo-basic.svc-64-30000.txt 132.1584 227.0003 0.2796 0.3898 30000 0
v5/s3-bucket/istio-sidecar-service-mesh-poc-replica-4/test-productpage.bookinfo-basic.svc-128-30000.txt 118.9651 252.1749 0.4160 3.1309 30000 0
v5/s3-bucket/istio-sidecar-service-mesh-poc-replica-4/test-productpage.bookinfo-basic.svc-32-10000.txt 37.5085 266.6063 0.1173 0.2177 10000 0
v5/s3-bucket/istio-sidecar-service-mesh-poc-replica-4/test-productpage.bookinfo-basic.svc-32-30000.txt 113.2256 264.9578 0.1182 0.2209 30000 0
v5/s3-bucket/istio-sidecar-service-mesh-poc-replica-4/test-productpage.bookinfo-basic.svc-64-30000.txt 114.4486 262.1263 0.2285 0.6631 30000 0
v5/s3-bucket/istio-sidecar-service-mesh-poc-replica-6/test-productpage.bookinfo-basic.svc-128-30000.txt 120.2744 249.4296 0.3146 3.0715 30000 0
v5/s3-bucket/istio-sidecar-service-mesh-poc-replica-6/test-productpage.bookinfo-basic.svc-32-10000.txt 38.4027 260.3981 0.1164 0.2848 10000 0
v5/s3-bucket/istio-sidecar-service-mesh-poc-replica-6/test-productpage.bookinfo-basic.svc-32-30000.txt 115.0794 260.6896 0.1158 0.2945 30000 0
v5/s3-bucket/istio-sidecar-service-mesh-poc-replica-6/test-productpage.bookinfo-basic.svc-64-30000.txt 116.0529 258.5027 0.2035 0.8486 30000 0
v5/s3-bucket/istio-sidecar-service-mesh-poc-replica-8/test-productpage.bookinfo-basic.svc-128-30000.txt 124.1881 241.5691 0.3169 3.0637 30000 0
v5/s3-bucket/istio-sidecar-service-mesh-poc-replica-8/test-productpage.bookinfo-basic.svc-32-10000.txt 38.9954 256.4405 0.1156 0.3269 10000 0
v5/s3-bucket/istio-sidecar-service-mesh-poc-replica-8/test-productpage.bookinfo-basic.svc-32-30000.txt 116.9017 256.6258 0.1156 0.3205 30000 0
v5/s3-bucket/istio-sidecar-service-mesh-poc-replica-8/test-productpage.bookinfo-basic.svc-64-30000.txt 118.9576 252.1908 0.2009 0.9205 30000 0
"""


def figures() -> dict[str, tuple[float, float, float, float, int, int]]:
    """path -> (total_s, requests_per_s, p50_s, p99_s, responses_200, transport_errors)."""
    out: dict[str, tuple[float, float, float, float, int, int]] = {}
    for line in _TABLE.strip().splitlines():
        path, total, rps, p50, p99, ok, errors = line.split()
        out[path] = (float(total), float(rps), float(p50), float(p99), int(ok), int(errors))
    return out
