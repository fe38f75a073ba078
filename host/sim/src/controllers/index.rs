//! One reconcile pass's view of a kind's objects for the controllers: shared
//! with the store (nothing copied) and grouped by the uid of their
//! controlling owner, so each owner finds its dependents with one lookup and
//! a pass costs O(objects), not O(owners × objects). Taken once per
//! controller per pass, it is as fresh as the controller's old full list was.
//! This file must not write to the store nor decide anything about workloads.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::controller_uid;
use crate::resources::ResourceType;
use crate::store::Store;

/// A kind's objects, by controlling owner.
pub(crate) struct Owned {
    objects: Vec<Arc<Value>>,
    /// Indexes into `objects` by controller uid.
    by_owner: HashMap<String, Vec<usize>>,
    /// Indexes of the objects without a controller (candidates for adoption).
    orphans: Vec<usize>,
}

impl Owned {
    /// Every object of `rt`, in every namespace, as the store holds them now.
    pub fn of(store: &Store, rt: &ResourceType) -> Owned {
        Owned::from(store.snapshot(&rt.gr()))
    }

    pub fn from(objects: Vec<Arc<Value>>) -> Owned {
        let mut by_owner: HashMap<String, Vec<usize>> = HashMap::new();
        let mut orphans = Vec::new();
        for (i, obj) in objects.iter().enumerate() {
            match controller_uid(obj) {
                Some(uid) => by_owner.entry(uid.to_string()).or_default().push(i),
                None => orphans.push(i),
            }
        }
        Owned { objects, by_owner, orphans }
    }

    /// The objects whose controlling owner has `uid`.
    pub fn of_owner<'a>(&'a self, uid: &str) -> impl Iterator<Item = &'a Value> + 'a {
        self.by_owner.get(uid).into_iter().flatten().map(|i| self.objects[*i].as_ref())
    }

    /// The objects without a controlling owner.
    pub fn orphans(&self) -> Vec<&Value> {
        self.orphans.iter().map(|i| self.objects[*i].as_ref()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(name: &str, controller: Option<&str>) -> Arc<Value> {
        let refs = match controller {
            Some(uid) => json!([{"uid": "other", "controller": false}, {"uid": uid, "controller": true}]),
            None => json!([{"uid": "other", "controller": false}]),
        };
        Arc::new(json!({"metadata": {"name": name, "ownerReferences": refs}}))
    }

    #[test]
    fn objects_are_found_by_their_controller_and_the_rest_are_orphans() {
        let owned = Owned::from(vec![obj("a", Some("rs-1")), obj("b", Some("rs-2")), obj("c", Some("rs-1")), obj("d", None)]);
        let names = |it: Vec<&Value>| it.iter().map(|o| o["metadata"]["name"].as_str().unwrap_or("").to_string()).collect::<Vec<_>>();
        assert_eq!(names(owned.of_owner("rs-1").collect()), ["a", "c"]);
        assert_eq!(names(owned.of_owner("rs-2").collect()), ["b"]);
        assert!(owned.of_owner("other").next().is_none(), "a non-controller reference does not own");
        assert_eq!(names(owned.orphans()), ["d"]);
    }
}
