#!/usr/bin/env bash
# Download the raw files of a dataset for `infae_mpi prepare`.
#
#   datasets/fetch.sh ml-100k|ml-1m DIR     download and unpack into DIR
#   datasets/fetch.sh magazine|douban|netflix  print where to get them
#
# MovieLens archives come from files.grouplens.org (GroupLens terms: research
# use, no redistribution). The other datasets need a login or have no stable
# URL, so this script only tells where to get them (see datasets/README.md).
set -euo pipefail

# INFAE_MOVIELENS_URL overrides the base URL (a mirror, or a local test server).
readonly GROUPLENS=${INFAE_MOVIELENS_URL:-https://files.grouplens.org/datasets/movielens}

die() {
    printf 'fetch.sh: error: %s\n' "$*" >&2
    exit 1
}

usage() {
    cat >&2 <<'EOF'
usage: datasets/fetch.sh ml-100k|ml-1m DIR
       datasets/fetch.sh magazine|douban|netflix
EOF
    exit 2
}

# download URL FILE: curl or wget, to FILE.part, then renamed to FILE.
download() {
    local url=$1 file=$2
    local part="${file}.part"
    rm -f -- "$part"
    if command -v curl >/dev/null 2>&1; then
        if ! curl -fL --retry 3 --connect-timeout 30 -o "$part" "$url"; then
            rm -f -- "$part"
            die "download failed: $url (curl)"
        fi
    elif command -v wget >/dev/null 2>&1; then
        if ! wget -O "$part" "$url"; then
            rm -f -- "$part"
            die "download failed: $url (wget)"
        fi
    else
        die "neither curl nor wget is installed; install one, or download $url by hand"
    fi
    mv -f -- "$part" "$file"
}

# check_md5 FILE EXPECTED
check_md5() {
    local file=$1 expected=$2 actual
    if command -v md5sum >/dev/null 2>&1; then
        actual=$(md5sum -- "$file" | cut -d' ' -f1)
    elif command -v md5 >/dev/null 2>&1; then
        actual=$(md5 -q -- "$file")
    else
        printf 'fetch.sh: warning: no md5sum or md5; %s not verified\n' "$file" >&2
        return 0
    fi
    if [[ "$actual" != "$expected" ]]; then
        die "MD5 mismatch for $file: got $actual, expected $expected (file kept for inspection)"
    fi
}

# unpack ZIP DIR
unpack() {
    local zip=$1 dir=$2
    if command -v unzip >/dev/null 2>&1; then
        unzip -o -q -- "$zip" -d "$dir" || die "unzip failed on $zip"
    elif command -v python3 >/dev/null 2>&1; then
        python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
            "$zip" "$dir" || die "python3 zipfile failed on $zip"
    elif command -v bsdtar >/dev/null 2>&1; then
        bsdtar -xf "$zip" -C "$dir" || die "bsdtar failed on $zip"
    else
        die "no unzip, python3 or bsdtar to unpack $zip"
    fi
}

# fetch_movielens NAME DIR MD5 RATINGS-FILE PREPARE-ARGS
fetch_movielens() {
    local name=$1 dir=$2 md5=$3 ratings=$4 args=$5
    local zip="${dir}/${name}.zip"
    local target="${dir}/${name}/${ratings}"

    mkdir -p -- "$dir" || die "cannot create directory $dir"
    if [[ -f "$target" ]]; then
        printf '%s already present: %s\n' "$name" "$target"
    else
        printf 'downloading %s/%s.zip\n' "$GROUPLENS" "$name"
        download "${GROUPLENS}/${name}.zip" "$zip"
        check_md5 "$zip" "$md5"
        unpack "$zip" "$dir"
        rm -f -- "$zip"
        [[ -f "$target" ]] || die "archive did not contain ${name}/${ratings}"
        printf 'unpacked %s\n' "$target"
    fi
    printf 'prepare with:\n  infae_mpi prepare %s --input %s --output %s.h5 --seed 42\n' \
        "$args" "$target" "$name"
}

[[ $# -ge 1 ]] || usage
dataset=$1

case "$dataset" in
    ml-100k | ml-1m)
        [[ $# -eq 2 ]] || usage
        dir=$2
        [[ -n "$dir" ]] || usage
        ;;
    *)
        [[ $# -le 2 ]] || usage
        ;;
esac

case "$dataset" in
    ml-100k)
        fetch_movielens ml-100k "$dir" 0e33842e24a9c977be4e0107933c0723 u.data \
            '--format tsv --user-col 1 --item-col 2'
        ;;
    ml-1m)
        fetch_movielens ml-1m "$dir" c4d9eecfca2ab87c1945afe126590906 ratings.dat \
            '--format movielens'
        ;;
    magazine | amazon-magazine)
        cat <<'EOF'
Amazon Magazine is not downloaded by this script (the file has moved between
hosts; no stable URL). Get the "ratings only" CSV of category "Magazine
Subscriptions" (Magazine_Subscriptions.csv, lines item,user,rating,timestamp)
from the Amazon review data (2018) page:
  https://nijianmo.github.io/amazon/index.html
Then:
  infae_mpi prepare --format csv --user-col 2 --item-col 1 \
      --input Magazine_Subscriptions.csv --output magazine.h5 --seed 42
EOF
        ;;
    douban)
        cat <<'EOF'
Douban (Monti et al. 3000x3000 subset) is not downloaded by this script. Get
Data/douban/training_test_dataset.mat from https://github.com/fmonti/mgcnn,
convert it to ratings.tsv (header "user item rating split", tab separated) as
shown in datasets/README.md, then:
  infae_mpi prepare --format tsv --header --input ratings.tsv \
      --output douban.h5 --seed 42
EOF
        ;;
    netflix)
        cat <<'EOF'
Netflix Prize needs a Kaggle login and is not downloaded by this script. Get
combined_data_1.txt .. combined_data_4.txt from
  https://www.kaggle.com/datasets/netflix-inc/netflix-prize-data
(or use the original training_set/ directory of mv_*.txt files), then:
  infae_mpi prepare --format netflix --input DIR --output netflix.h5 --seed 42
EOF
        ;;
    -h | --help)
        usage
        ;;
    *)
        printf 'fetch.sh: unknown dataset: %s\n' "$dataset" >&2
        usage
        ;;
esac
