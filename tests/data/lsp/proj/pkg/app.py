"""The application."""
from pkg.store import FileStore
from pkg import store as st


def make_store():
    """Create the store of the application."""
    return FileStore()


class App:
    def run(self):
        s = make_store()
        s.save("x")
        st.BaseStore().load()
        label = "😋"; make_store()
        return label
