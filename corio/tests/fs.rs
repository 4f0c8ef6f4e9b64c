//! corio::fs on a real temporary directory.

use corio::fs;

#[corio::test]
async fn files_and_directories() {
    let dir = std::env::temp_dir().join(format!("corio-fs-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("a/b")).await.unwrap();
    let file = dir.join("a/b/data.bin");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 256) as u8).collect();
    fs::write(&file, &data).await.unwrap();
    assert_eq!(fs::read(&file).await.unwrap(), data);
    assert_eq!(fs::metadata(&file).await.unwrap().len(), 100_000);
    fs::write(dir.join("note.txt"), "héllo").await.unwrap();
    assert_eq!(
        fs::read_to_string(dir.join("note.txt")).await.unwrap(),
        "héllo"
    );
    assert_eq!(
        fs::copy(&file, dir.join("copy.bin")).await.unwrap(),
        100_000
    );
    fs::rename(dir.join("copy.bin"), dir.join("moved.bin"))
        .await
        .unwrap();
    let mut names: Vec<String> = fs::read_dir(&dir)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec!["a", "moved.bin", "note.txt"]);
    fs::remove_file(dir.join("moved.bin")).await.unwrap();
    let missing = fs::read(dir.join("moved.bin")).await.unwrap_err();
    assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    assert!(fs::remove_dir(dir.join("a")).await.is_err(), "not empty");
    fs::remove_dir_all(&dir).await.unwrap();
    assert!(!dir.exists());
}
