//! `mirror --views`: the albums, dates and tags views rebuilt as symlink trees in the cache,
//! from the same naming code as the mount's views (`crate::views`). The album list and every
//! album's photos are fetched first (ceil(albums/500) + ceil(size/500) per album), so that a
//! fetch that fails changes nothing on disk; then each tree is replaced whole
//! (`cache::viewtree`).

use super::{Engine, SyncError};
use crate::views::{self, Catalog};

/// What a rebuild wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ViewsReport {
    pub albums: usize,
    pub links: usize,
}

impl Engine {
    pub async fn build_views(&self) -> Result<ViewsReport, SyncError> {
        self.fetch_albums().await?;
        let rows = self.index.albums()?;
        for a in &rows {
            self.fetch_album_photos(&a.id).await?;
        }
        let names = views::album_dirs(
            &rows
                .iter()
                .map(|a| (a.id.clone(), a.title.clone()))
                .collect::<Vec<_>>(),
        );
        let mut albums = Vec::with_capacity(rows.len());
        for (name, a) in names.into_iter().zip(&rows) {
            albums.push((name, self.index.album_photos(&a.id)?));
        }
        let catalog = Catalog::build(self.index.view_photos()?);
        let links = views::links(
            &catalog,
            &albums,
            self.store.depth(),
            self.opts.want_image,
            self.opts.info_level.is_some(),
        );
        let report = ViewsReport {
            albums: albums.len(),
            links: links.len(),
        };
        for root in views::ROOTS {
            let prefix = format!("{root}/");
            let mine: Vec<(String, String)> = links
                .iter()
                .filter_map(|(p, t)| Some((p.strip_prefix(&prefix)?.to_string(), t.clone())))
                .collect();
            let dirs: Vec<String> = if root == views::ALBUMS {
                albums.iter().map(|(n, _)| n.clone()).collect()
            } else {
                Vec::new()
            };
            crate::cache::viewtree::replace(self.store.root(), root, &dirs, &mine).map_err(
                |e| {
                    SyncError::Io(format!(
                        "cannot write the {root} view in {}: {e}",
                        self.store.root().display()
                    ))
                },
            )?;
        }
        Ok(report)
    }
}
