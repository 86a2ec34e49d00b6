//! Shared ownership with `Rc`, interior mutability with `RefCell`, and
//! back-references with `Weak`.
//!
//! A folder tree where children are owned by their parent (`Rc`) and each
//! child points back to its parent without owning it (`Weak`), so dropping
//! the root frees everything: no reference cycle keeps nodes alive.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

#[derive(Debug)]
pub struct Folder {
    pub name: String,
    size_bytes: Cell<u64>,
    parent: RefCell<Weak<Folder>>,
    children: RefCell<Vec<Rc<Folder>>>,
}

impl Folder {
    /// Creates a root folder.
    pub fn root(name: &str) -> Rc<Folder> {
        Rc::new(Folder {
            name: name.to_string(),
            size_bytes: Cell::new(0),
            parent: RefCell::new(Weak::new()),
            children: RefCell::new(Vec::new()),
        })
    }

    /// Creates a child folder under `parent` and returns it.
    pub fn add_child(parent: &Rc<Folder>, name: &str) -> Rc<Folder> {
        let child = Rc::new(Folder {
            name: name.to_string(),
            size_bytes: Cell::new(0),
            parent: RefCell::new(Rc::downgrade(parent)),
            children: RefCell::new(Vec::new()),
        });
        parent.children.borrow_mut().push(Rc::clone(&child));
        child
    }

    /// Sets the size of the files directly inside this folder.
    pub fn set_own_size(&self, bytes: u64) {
        self.size_bytes.set(bytes);
    }

    /// Size including all descendants.
    pub fn total_size(&self) -> u64 {
        self.size_bytes.get()
            + self
                .children
                .borrow()
                .iter()
                .map(|c| c.total_size())
                .sum::<u64>()
    }

    pub fn parent(&self) -> Option<Rc<Folder>> {
        self.parent.borrow().upgrade()
    }

    /// The path from the root, e.g. "/home/ann/docs".
    pub fn path(&self) -> String {
        let mut names = vec![self.name.clone()];
        let mut current = self.parent();
        while let Some(folder) = current {
            names.push(folder.name.clone());
            current = folder.parent();
        }
        names.reverse();
        format!("/{}", names[1..].join("/"))
    }

    /// Finds a direct child by name.
    pub fn child(&self, name: &str) -> Option<Rc<Folder>> {
        self.children
            .borrow()
            .iter()
            .find(|c| c.name == name)
            .cloned()
    }

    /// Walks a relative path like "ann/docs".
    pub fn resolve(self: &Rc<Self>, relative: &str) -> Option<Rc<Folder>> {
        relative
            .split('/')
            .filter(|p| !p.is_empty())
            .try_fold(Rc::clone(self), |folder, part| match part {
                ".." => folder.parent().or(Some(folder)),
                name => folder.child(name),
            })
    }

    /// Moves `folder` under `new_parent`, detaching it from its old parent.
    pub fn move_to(folder: &Rc<Folder>, new_parent: &Rc<Folder>) {
        if let Some(old) = folder.parent() {
            old.children.borrow_mut().retain(|c| !Rc::ptr_eq(c, folder));
        }
        *folder.parent.borrow_mut() = Rc::downgrade(new_parent);
        new_parent.children.borrow_mut().push(Rc::clone(folder));
    }

    /// Names of the largest descendants first, with their total sizes.
    pub fn largest_children(&self, n: usize) -> Vec<(String, u64)> {
        let mut sizes: Vec<(String, u64)> = self
            .children
            .borrow()
            .iter()
            .map(|c| (c.name.clone(), c.total_size()))
            .collect();
        sizes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        sizes.truncate(n);
        sizes
    }
}

/// A counter shared between several owners through `Rc<RefCell<_>>`.
#[derive(Debug, Clone, Default)]
pub struct SharedLog {
    lines: Rc<RefCell<Vec<String>>>,
}

impl SharedLog {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn write(&self, line: &str) {
        self.lines.borrow_mut().push(line.to_string());
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.borrow().clone()
    }

    pub fn owners(&self) -> usize {
        Rc::strong_count(&self.lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Rc<Folder>, Rc<Folder>, Rc<Folder>) {
        let root = Folder::root("");
        let home = Folder::add_child(&root, "home");
        let ann = Folder::add_child(&home, "ann");
        let docs = Folder::add_child(&ann, "docs");
        let bob = Folder::add_child(&home, "bob");
        ann.set_own_size(10);
        docs.set_own_size(500);
        bob.set_own_size(200);
        (root, docs, bob)
    }

    #[test]
    fn paths_and_sizes() {
        let (root, docs, bob) = sample();
        assert_eq!(docs.path(), "/home/ann/docs");
        assert_eq!(bob.path(), "/home/bob");
        assert_eq!(root.path(), "/");
        assert_eq!(root.total_size(), 710);
        let home = root.child("home").unwrap();
        assert_eq!(
            home.largest_children(5),
            vec![("ann".to_string(), 510), ("bob".to_string(), 200)]
        );
    }

    #[test]
    fn resolving_relative_paths() {
        let (root, docs, _) = sample();
        let found = root.resolve("home/ann/docs").unwrap();
        assert!(Rc::ptr_eq(&found, &docs));
        assert_eq!(
            docs.resolve("../../bob").map(|f| f.path()),
            Some("/home/bob".into())
        );
        assert!(root.resolve("home/zed").is_none());
        assert!(Rc::ptr_eq(&root.resolve("..").unwrap(), &root));
    }

    #[test]
    fn moving_updates_both_sides() {
        let (root, docs, bob) = sample();
        Folder::move_to(&docs, &bob);
        assert_eq!(docs.path(), "/home/bob/docs");
        assert_eq!(root.resolve("home/ann").unwrap().total_size(), 10);
        assert_eq!(bob.total_size(), 700);
    }

    #[test]
    fn weak_parents_do_not_leak() {
        let (root, docs, _) = sample();
        let weak_root = Rc::downgrade(&root);
        assert_eq!(Rc::strong_count(&docs), 2); // ours + its parent's list
        drop(root);
        assert!(weak_root.upgrade().is_none(), "the tree was freed");
        assert!(docs.parent().is_none(), "its parent is gone too");
        assert_eq!(Rc::strong_count(&docs), 1);
    }

    #[test]
    fn shared_log_has_many_owners() {
        let log = SharedLog::new();
        let writer_a = log.clone();
        let writer_b = log.clone();
        writer_a.write("from a");
        writer_b.write("from b");
        assert_eq!(log.lines(), vec!["from a", "from b"]);
        assert_eq!(log.owners(), 3);
        drop(writer_a);
        assert_eq!(log.owners(), 2);
    }
}
